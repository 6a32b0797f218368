#include "daemon/cluster/object_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

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
