#include "daemon/cluster/block_manager.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/store/forwarding_store.h"
#include "daemon/store/sqlite_kv_store.h"

namespace quasar::daemon {
namespace {

// A store whose transactions and reads can be made to fail: `commit_then_fail` transactions
// reach the backend and then report a timeout (the outcome is unknown to the caller), and
// `failing_gets` reads fail.
class FlakyStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  int commit_then_fail = 0;
  int failing_gets = 0;
  // Transactions sent twice, as a retry after a lost answer would: the caller sees the second.
  int sent_twice = 0;

  absl::StatusOr<std::optional<KeyValue>> get(const std::string& key) override {
    if (failing_gets > 0) {
      --failing_gets;
      return absl::UnavailableError("injected: read failed");
    }
    return inner_.get(key);
  }
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& then,
                                const std::vector<Op>& otherwise) override {
    auto r = inner_.txn(compares, then, otherwise);
    if (sent_twice > 0) {
      --sent_twice;
      return inner_.txn(compares, then, otherwise);
    }
    if (commit_then_fail > 0) {
      --commit_then_fail;
      return absl::DeadlineExceededError("injected: the commit may or may not have happened");
    }
    return r;
  }
  std::string describe() const override { return "flaky:" + inner_.describe(); }
};

class BlockManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-blocks-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto kv = SqliteKvStore::open(dir_ + "/cluster.db");
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    flaky_ = std::make_unique<FlakyStore>(*kv_);
  }
  void TearDown() override {
    flaky_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<SqliteKvStore> kv_;
  std::unique_ptr<FlakyStore> flaky_;
};

TEST_F(BlockManagerTest, AClaimWhoseCommitTimedOutIsKeptNotLeaked) {
  BlockManager blocks(*flaky_, "n1", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
  flaky_->commit_then_fail = 1;
  auto b = blocks.claim();
  ASSERT_TRUE(b.ok()) << b.status();
  auto owned = blocks.owned();
  ASSERT_TRUE(owned.ok());
  ASSERT_EQ(owned->size(), 1u) << "the timed-out claim committed: it is the block returned";
  EXPECT_EQ(owned->front(), *b);
  EXPECT_TRUE(blocks.release(*b).ok()) << "a claimed block can be given back";
  EXPECT_TRUE(blocks.owned()->empty());
}

TEST_F(BlockManagerTest, AClaimWhoseOutcomeCannotBeReadIsRecheckedByTheNextClaim) {
  BlockManager blocks(*flaky_, "n1", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
  flaky_->commit_then_fail = 1;
  flaky_->failing_gets = 1000;
  EXPECT_FALSE(blocks.claim().ok()) << "neither the commit nor a re-read answered";
  flaky_->failing_gets = 0;
  auto b = blocks.claim();
  ASSERT_TRUE(b.ok()) << b.status();
  auto owned = blocks.owned();
  ASSERT_TRUE(owned.ok());
  ASSERT_EQ(owned->size(), 1u) << "the next claim adopts the block the unknown one committed";
  EXPECT_EQ(owned->front(), *b);
}

TEST_F(BlockManagerTest, ARetriedClaimThatFindsItsOwnEarlierCommitKeepsIt) {
  BlockManager blocks(*flaky_, "n1", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
  flaky_->sent_twice = 1;
  auto b = blocks.claim();
  ASSERT_TRUE(b.ok()) << b.status();
  auto owned = blocks.owned();
  ASSERT_TRUE(owned.ok());
  ASSERT_EQ(owned->size(), 1u) << "the retry found the key present, and it is this claim's";
  EXPECT_EQ(owned->front(), *b);
  // Another node's claim is never taken for one's own.
  BlockManager other(*kv_, "n2", *conf::IpPrefix::parse("10.8.0.0/28"), 30);
  EXPECT_TRUE(absl::IsFailedPrecondition(other.release(*b)));
  EXPECT_EQ(blocks.owned()->size(), 1u);
}

}  // namespace
}  // namespace quasar::daemon
