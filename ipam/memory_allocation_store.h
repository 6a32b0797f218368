#pragma once
// An in-memory AllocationStore for ipam's unit tests: the same contract as the node's SQLite
// store (daemon/store/sqlite_allocation_store.h) without a disk. Copies made with reopen() share
// the data, as a reopened database does, so a test can "restart" an AddressManager over it.
// Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "ipam/allocation_store.h"

namespace quasar::ipam {

class MemoryAllocationStore final : public AllocationStore {
 public:
  MemoryAllocationStore() : data_(std::make_shared<Data>()) {}
  // Another handle on the same data: what opening the same database file again gives.
  std::unique_ptr<MemoryAllocationStore> reopen() const {
    return std::unique_ptr<MemoryAllocationStore>(new MemoryAllocationStore(data_));
  }

  absl::StatusOr<StoreSnapshot> load(int64_t released_since_unix_ms) override {
    std::lock_guard lock(data_->mu);
    StoreSnapshot snap;
    std::map<Attachment, Allocation> by_attachment;
    for (const auto& [ip, a] : data_->by_ip) {
      auto [it, fresh] = by_attachment.try_emplace(a.attachment, a);
      if (!fresh)
        it->second.ips.push_back(ip);
      else
        it->second.ips = {ip};
    }
    for (auto& [att, a] : by_attachment) snap.allocations.push_back(std::move(a));
    for (auto it = data_->releases.begin(); it != data_->releases.end();) {
      if (it->second < released_since_unix_ms) {
        it = data_->releases.erase(it);  // old releases matter to nobody any more
      } else {
        snap.releases.emplace_back(it->first, it->second);
        ++it;
      }
    }
    return snap;
  }

  absl::Status commit(std::span<const Mutation> batch) override {
    std::lock_guard lock(data_->mu);
    auto by_ip = data_->by_ip;  // all of the batch or nothing
    auto releases = data_->releases;
    for (const Mutation& m : batch) {
      const Allocation& a = m.allocation;
      if (m.kind == Mutation::Kind::kPut) {
        for (const auto& ip : a.ips) {
          if (!by_ip.try_emplace(ip, a).second) {
            return absl::AlreadyExistsError(absl::StrCat("insert ", ip.toString(), ": taken"));
          }
          releases.erase(ip);
        }
      } else {
        std::erase_if(by_ip, [&](const auto& e) { return e.second.attachment == a.attachment; });
        for (const auto& ip : a.ips) releases[ip] = m.released_unix_ms;
      }
    }
    data_->by_ip = std::move(by_ip);
    data_->releases = std::move(releases);
    ++data_->commits;
    return absl::OkStatus();
  }

  std::string describe() const override { return "memory"; }
  int commits() const {
    std::lock_guard lock(data_->mu);
    return data_->commits;
  }

 private:
  struct Data {
    mutable std::mutex mu;
    std::map<conf::IpAddress, Allocation> by_ip;
    std::map<conf::IpAddress, int64_t> releases;
    int commits = 0;
  };
  explicit MemoryAllocationStore(std::shared_ptr<Data> d) : data_(std::move(d)) {}
  std::shared_ptr<Data> data_;
};

}  // namespace quasar::ipam
