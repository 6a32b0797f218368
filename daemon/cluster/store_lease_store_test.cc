// StoreLeaseStore when the cluster datastore does not answer (etcd stopped or cut off): every
// call says so in words and as Unavailable, which the plugin reports as CNI code 11 (try again
// later); other failures pass unchanged.

#include "daemon/cluster/store_lease_store.h"

#include <gtest/gtest.h>

#include <string>

#include "daemon/store/store.h"

namespace quasar::daemon {
namespace {

namespace fl = ipam::floating;

// Every call fails with `status`.
class FailingStore final : public Store {
 public:
  explicit FailingStore(absl::Status status) : status_(std::move(status)) {}
  absl::StatusOr<std::optional<KeyValue>> get(const std::string&) override { return status_; }
  absl::StatusOr<ListResult> list(const std::string&) override { return status_; }
  absl::StatusOr<int64_t> put(const std::string&, const std::string&, int64_t) override {
    return status_;
  }
  absl::StatusOr<int64_t> del(const std::string&) override { return status_; }
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>&, const std::vector<Op>&,
                                const std::vector<Op>&) override {
    return status_;
  }
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds) override { return status_; }
  absl::Status keepAlive(int64_t) override { return status_; }
  absl::Status revokeLease(int64_t) override { return status_; }
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string&, int64_t,
                                               WatchCallback) override {
    return status_;
  }
  std::string describe() const override { return "failing"; }

 private:
  absl::Status status_;
};

fl::Lease aLease() {
  fl::Lease l;
  l.pool = "p";
  l.ip = *conf::IpAddress::parse("10.20.0.100");
  return l;
}

// Each of the adapter's calls, as a status.
std::vector<absl::Status> everyCall(StoreLeaseStore& leases) {
  return {leases.list("").status(), leases.get(aLease().ip).status(),
          leases.create(aLease()).status(), leases.update(aLease(), 7).status(),
          leases.remove(aLease().ip, 7)};
}

TEST(StoreLeaseStore, UnansweredCallsAreUnavailableAndSaySo) {
  for (const auto& cause : {absl::DeadlineExceededError("etcd range: Deadline Exceeded"),
                            absl::UnavailableError("etcd txn: connection refused")}) {
    FailingStore store(cause);
    StoreLeaseStore leases(store);
    for (const auto& s : everyCall(leases)) {
      EXPECT_TRUE(absl::IsUnavailable(s)) << s;
      const std::string msg(s.message());
      EXPECT_NE(msg.find("the cluster datastore did not answer while "), std::string::npos) << s;
      EXPECT_NE(msg.find(std::string(cause.message())), std::string::npos) << s;
      EXPECT_NE(msg.find("try again later"), std::string::npos) << s;
    }
  }
}

TEST(StoreLeaseStore, OtherFailuresPassUnchanged) {
  const auto cause = absl::InternalError("etcd txn: malformed answer");
  FailingStore store(cause);
  StoreLeaseStore leases(store);
  for (const auto& s : everyCall(leases)) EXPECT_EQ(s, cause);
}

}  // namespace
}  // namespace quasar::daemon
