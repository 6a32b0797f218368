#include "daemon/cluster/object_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "daemon/store/forwarding_store.h"
#include "daemon/store/sqlite_kv_store.h"

namespace quasar::daemon {
namespace {

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-object-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = SqliteKvStore::open(dir_ + "/kv.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<SqliteKvStore> store_;
};

// The store as etcd is: a transaction with more than kMaxTxnOps operations in a branch is
// refused (etcd's --max-txn-ops). Everything else goes to the SQLite store.
class EtcdSizedStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& then,
                                const std::vector<Op>& otherwise) override {
    ++txns;
    if (then.size() > kMaxTxnOps || otherwise.size() > kMaxTxnOps) {
      return absl::InvalidArgumentError("etcdserver: too many operations in txn request");
    }
    return inner_.txn(compares, then, otherwise);
  }
  int txns = 0;
};

// More objects than one etcd transaction holds: applied and removed in several, every one
// reported.
TEST_F(ObjectStoreTest, ApplyAndRemoveMoreObjectsThanOneTransactionHolds) {
  EtcdSizedStore etcd(*store_);
  ObjectStore objects(etcd);
  const size_t n = 3 * kMaxTxnOps + 5;
  std::string list = "[";
  for (size_t i = 0; i < n; ++i) {
    list += std::string(i ? "," : "") + R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns)" +
            std::to_string(i) + R"("}})";
  }
  list += "]";
  auto created = objects.apply({list});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->size(), n);
  EXPECT_EQ(created->back(), "Namespace ns" + std::to_string(n - 1) + " created");
  EXPECT_EQ(store_->list("k8s/namespace/")->kvs.size(), n);
  EXPECT_GT(etcd.txns, 2);
  auto again = objects.apply({list});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->at(kMaxTxnOps + 1), "Namespace ns" + std::to_string(kMaxTxnOps + 1) + " unchanged");
  auto removed = objects.remove({list});
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_EQ(removed->size(), n);
  EXPECT_EQ(removed->back(), "Namespace ns" + std::to_string(n - 1) + " deleted");
  EXPECT_TRUE(store_->list("k8s/namespace/")->kvs.empty());
}

// What quasarctl apply sends reaches quasard as JSON text: a list nested far too deep is
// refused before anything walks it (parseManifest recurses into lists).
TEST_F(ObjectStoreTest, ApplyRefusesDeeplyNestedJson) {
  ObjectStore objects(*store_);
  for (int depth : {200, 100000}) {
    auto r = objects.apply({std::string(depth, '[') + std::string(depth, ']')});
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("deeper than"), std::string::npos) << r.status();
  }
  auto bad = objects.apply({"{not json"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto ok = objects.apply({R"([{"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "ml"}}])"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at(0), "Namespace ml created");
  auto before = store_->get("k8s/namespace/_/ml");
  ASSERT_TRUE(before.ok() && before->has_value());
  auto again = objects.apply({R"({"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": "ml"}})"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->at(0), "Namespace ml unchanged");
  // Not written again: watchers see no change.
  auto after = store_->get("k8s/namespace/_/ml");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->mod_revision, (*before)->mod_revision);
}

}  // namespace
}  // namespace quasar::daemon
