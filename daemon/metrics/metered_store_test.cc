#include "daemon/metrics/metered_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "daemon/store/sqlite_kv_store.h"

namespace quasar::metrics {
namespace {

class MeteredStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-metered-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = daemon::SqliteKvStore::open(dir_ + "/cluster.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::make_unique<MeteredStore>(std::move(*s), metrics_.datastore());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  uint64_t calls(const char* op, const char* result) {
    return metrics_.datastore_requests.with({op, result}).value();
  }
  uint64_t timed(const char* op) {
    return metrics_.datastore_request_duration.with({op}).snapshot().cumulative.back();
  }

  QuasardMetrics metrics_;
  std::string dir_;
  std::unique_ptr<MeteredStore> store_;
};

TEST_F(MeteredStoreTest, CountsAndTimesEveryCallByOperationAndResult) {
  ASSERT_TRUE(store_->put("a", "1", 0).ok());
  ASSERT_TRUE(store_->put("b", "2", 0).ok());
  ASSERT_TRUE(store_->get("a").ok());
  auto list = store_->list("");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->kvs.size(), 2u);  // passed through unchanged
  ASSERT_TRUE(store_->del("b").ok());
  auto txn = store_->txn({daemon::Compare::absent("a")}, {daemon::Op::put("a", "x")}, {});
  ASSERT_TRUE(txn.ok());
  EXPECT_FALSE(txn->succeeded);
  auto lease = store_->grantLease(std::chrono::seconds(10));
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(store_->keepAlive(*lease).ok());
  EXPECT_TRUE(store_->revokeLease(*lease).ok());
  // An expired (here: revoked) lease is NotFound: counted with its result.
  EXPECT_TRUE(absl::IsNotFound(store_->keepAlive(*lease)));
  auto w = store_->watch("", 0, [](const auto&, const auto&) {});
  ASSERT_TRUE(w.ok());

  EXPECT_EQ(calls("put", "ok"), 2u);
  EXPECT_EQ(calls("get", "ok"), 1u);
  EXPECT_EQ(calls("list", "ok"), 1u);
  EXPECT_EQ(calls("delete", "ok"), 1u);
  EXPECT_EQ(calls("txn", "ok"), 1u);
  EXPECT_EQ(calls("lease_grant", "ok"), 1u);
  EXPECT_EQ(calls("lease_keepalive", "ok"), 1u);
  EXPECT_EQ(calls("lease_keepalive", "not_found"), 1u);
  EXPECT_EQ(calls("lease_revoke", "ok"), 1u);
  EXPECT_EQ(calls("watch", "ok"), 1u);
  EXPECT_EQ(timed("put"), 2u);
  EXPECT_EQ(timed("lease_keepalive"), 2u);
  EXPECT_EQ(store_->describe(), "sqlite:" + dir_ + "/cluster.db");
}

}  // namespace
}  // namespace quasar::metrics
