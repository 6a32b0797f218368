#pragma once
// Store on etcd v3, over etcd's own gRPC API (daemon/store/etcd/etcd.proto): KV Range/Put/DeleteRange/
// Txn, Lease Grant/KeepAlive/Revoke, Watch. Every multi-key change is one Txn.
//
// Endpoints: one channel each; a call that finds its endpoint unavailable moves to the next and
// retries with exponential backoff (only UNAVAILABLE is retried: the request never reached
// etcd, so a retried compare-and-swap cannot apply twice). TLS with client certificates when a
// CA file is given. All keys live under `key_prefix`, so clusters can share one etcd.
// A watch runs on its own thread and, after a disconnect, resumes from the revision after the
// last one it delivered, so no event is missed or repeated.
// Thread-safe.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>

#include "daemon/store/etcd/etcd.grpc.pb.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // host:port
  std::string key_prefix = "/quasar/";
  // TLS: all three, or none (plain text).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds call_timeout{5000};
  int attempts = 6;  // per call, across endpoints, with backoff 50 ms .. 1.6 s
};

class EtcdStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<EtcdStore>> open(const EtcdOptions& options);

  absl::StatusOr<std::optional<KeyValue>> get(const std::string& key) override;
  absl::StatusOr<ListResult> list(const std::string& prefix) override;
  absl::StatusOr<int64_t> put(const std::string& key, const std::string& value,
                              int64_t lease) override;
  absl::StatusOr<int64_t> del(const std::string& key) override;
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& then,
                                const std::vector<Op>& otherwise) override;
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds ttl) override;
  absl::Status keepAlive(int64_t lease) override;
  absl::Status revokeLease(int64_t lease) override;
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t start_revision,
                                               WatchCallback callback) override;
  std::string describe() const override;

 private:
  class EtcdWatch;
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  };
  explicit EtcdStore(EtcdOptions options) : options_(std::move(options)) {}

  // Runs `call(endpoint, context)` with fail-over and backoff on UNAVAILABLE.
  absl::Status withRetry(const char* what,
                         const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call);
  Endpoint& current();
  std::string full(const std::string& key) const { return options_.key_prefix + key; }
  KeyValue fromPb(const etcdserverpb::KeyValue& kv) const;

  EtcdOptions options_;
  std::vector<Endpoint> endpoints_;
  std::atomic<size_t> current_{0};
};

// The key just past every key starting with `prefix` (etcd's range_end for a prefix).
std::string etcdPrefixEnd(const std::string& prefix);

}  // namespace quasar::daemon
