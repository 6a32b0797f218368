#pragma once
// A Store that hands every call to another one: tests derive from it and override only what
// they inject (failures, limits, retries). Test-only.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/store/store.h"

namespace quasar::daemon::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}
  absl::StatusOr<std::optional<KeyValue>> get(const std::string& key) override {
    return inner_.get(key);
  }
  absl::StatusOr<ListResult> list(const std::string& prefix) override {
    return inner_.list(prefix);
  }
  absl::StatusOr<int64_t> put(const std::string& key, const std::string& value,
                              int64_t lease) override {
    return inner_.put(key, value, lease);
  }
  absl::StatusOr<int64_t> del(const std::string& key) override { return inner_.del(key); }
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& then,
                                const std::vector<Op>& otherwise) override {
    return inner_.txn(compares, then, otherwise);
  }
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds ttl) override {
    return inner_.grantLease(ttl);
  }
  absl::Status keepAlive(int64_t lease) override { return inner_.keepAlive(lease); }
  absl::Status revokeLease(int64_t lease) override { return inner_.revokeLease(lease); }
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t start_revision,
                                               WatchCallback callback) override {
    return inner_.watch(prefix, start_revision, std::move(callback));
  }
  std::string describe() const override { return "forwarding:" + inner_.describe(); }

 protected:
  Store& inner_;
};

}  // namespace quasar::daemon::testing
