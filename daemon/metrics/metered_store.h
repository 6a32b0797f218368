#pragma once
// A Store that counts and times every call of the Store it wraps
// (quasar_datastore_requests_total, quasar_datastore_request_duration_seconds): one call is one
// round trip as its caller sees it, the backend's own retries included. Watch events are not
// calls; a watch is counted once, when it starts.
//
// Threading and errors: those of the wrapped store, which it owns; the metrics must outlive it.

#include <memory>

#include "daemon/metrics/quasard_metrics.h"
#include "daemon/store/store.h"

namespace quasar::metrics {

class MeteredStore final : public daemon::Store {
 public:
  MeteredStore(std::unique_ptr<daemon::Store> inner, CallMetrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}

  absl::StatusOr<std::optional<daemon::KeyValue>> get(const std::string& key) override;
  absl::StatusOr<daemon::ListResult> list(const std::string& prefix) override;
  absl::StatusOr<int64_t> put(const std::string& key, const std::string& value,
                              int64_t lease) override;
  absl::StatusOr<int64_t> del(const std::string& key) override;
  absl::StatusOr<daemon::TxnResult> txn(const std::vector<daemon::Compare>& compares,
                                        const std::vector<daemon::Op>& then,
                                        const std::vector<daemon::Op>& otherwise) override;
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds ttl) override;
  absl::Status keepAlive(int64_t lease) override;
  absl::Status revokeLease(int64_t lease) override;
  absl::StatusOr<std::unique_ptr<daemon::Watch>> watch(const std::string& prefix,
                                                       int64_t start_revision,
                                                       WatchCallback callback) override;
  std::string describe() const override { return inner_->describe(); }

 private:
  const std::unique_ptr<daemon::Store> inner_;
  CallMetrics& metrics_;
};

}  // namespace quasar::metrics
