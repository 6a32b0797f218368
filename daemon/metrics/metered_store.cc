#include "daemon/metrics/metered_store.h"

namespace quasar::metrics {
namespace {

using Clock = std::chrono::steady_clock;

absl::StatusCode codeOf(const absl::Status& s) { return s.code(); }
template <typename T>
absl::StatusCode codeOf(const absl::StatusOr<T>& s) {
  return s.status().code();
}

// Runs `call`, records its outcome under `op` and returns what it returned.
template <typename F>
auto timed(CallMetrics& m, StoreOperation op, F&& call) {
  const auto start = Clock::now();
  auto result = call();
  m.record(op, codeOf(result), start);
  return result;
}

}  // namespace

absl::StatusOr<std::optional<daemon::KeyValue>> MeteredStore::get(const std::string& key) {
  return timed(metrics_, kStoreGet, [&] { return inner_->get(key); });
}

absl::StatusOr<daemon::ListResult> MeteredStore::list(const std::string& prefix) {
  return timed(metrics_, kStoreList, [&] { return inner_->list(prefix); });
}

absl::StatusOr<int64_t> MeteredStore::put(const std::string& key, const std::string& value,
                                          int64_t lease) {
  return timed(metrics_, kStorePut, [&] { return inner_->put(key, value, lease); });
}

absl::StatusOr<int64_t> MeteredStore::del(const std::string& key) {
  return timed(metrics_, kStoreDelete, [&] { return inner_->del(key); });
}

absl::StatusOr<daemon::TxnResult> MeteredStore::txn(const std::vector<daemon::Compare>& compares,
                                                    const std::vector<daemon::Op>& then,
                                                    const std::vector<daemon::Op>& otherwise) {
  return timed(metrics_, kStoreTxn, [&] { return inner_->txn(compares, then, otherwise); });
}

absl::StatusOr<int64_t> MeteredStore::grantLease(std::chrono::seconds ttl) {
  return timed(metrics_, kStoreLeaseGrant, [&] { return inner_->grantLease(ttl); });
}

absl::Status MeteredStore::keepAlive(int64_t lease) {
  return timed(metrics_, kStoreLeaseKeepAlive, [&] { return inner_->keepAlive(lease); });
}

absl::Status MeteredStore::revokeLease(int64_t lease) {
  return timed(metrics_, kStoreLeaseRevoke, [&] { return inner_->revokeLease(lease); });
}

absl::StatusOr<std::unique_ptr<daemon::Watch>> MeteredStore::watch(const std::string& prefix,
                                                                   int64_t start_revision,
                                                                   WatchCallback callback) {
  return timed(metrics_, kStoreWatch,
               [&] { return inner_->watch(prefix, start_revision, std::move(callback)); });
}

}  // namespace quasar::metrics
