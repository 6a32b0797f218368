#include "daemon/cluster/pod_addresses.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "daemon/store/sqlite_kv_store.h"

namespace quasar::daemon {
namespace {

using std::chrono::seconds;

class PodAddressesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-pod-addresses-XXXXXX";
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
  // Every published record, by namespace/name (all nodes).
  std::map<std::string, PodAddresses> published() {
    std::map<std::string, PodAddresses> out;
    auto l = store_->list(kPodIpsPrefix);
    EXPECT_TRUE(l.ok()) << l.status();
    if (!l.ok()) return out;
    for (const auto& kv : l->kvs) {
      auto p = parsePodAddresses(kv.key, kv.value);
      EXPECT_TRUE(p.has_value()) << kv.key << " " << kv.value;
      if (p) out[p->namespace_ + "/" + p->name] = *p;
    }
    return out;
  }
  std::string dir_;
  std::unique_ptr<SqliteKvStore> store_;
};

TEST_F(PodAddressesTest, AttachmentsOfAPodArePublishedTogetherAndRemovedWithTheLast) {
  PodAddressPublisher pub(*store_, "node-a");
  pub.start({});
  pub.setAttachment("ml", "trainer-0", "uid-1", "eth0", {"10.1.0.5"});
  pub.setAttachment("ml", "trainer-0", "", "net1", {"10.2.0.9"});
  ASSERT_TRUE(pub.flush(seconds(10)));
  auto got = published();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got["ml/trainer-0"],
            (PodAddresses{"node-a", "ml", "trainer-0", "uid-1", {"10.1.0.5", "10.2.0.9"}}));

  pub.removeAttachment("eth0");
  ASSERT_TRUE(pub.flush(seconds(10)));
  EXPECT_EQ(published()["ml/trainer-0"].ips, std::vector<std::string>{"10.2.0.9"});
  pub.removeAttachment("net1");
  ASSERT_TRUE(pub.flush(seconds(10)));
  EXPECT_TRUE(published().empty());
}

TEST_F(PodAddressesTest, StartMakesTheNodesSubtreeEqualToWhatItHolds) {
  // A previous run left web-1 (gone since) and an old address of db-0; node-b's are not ours.
  ASSERT_TRUE(store_
                  ->put(podAddressesKey("node-a", "default", "web-1"),
                        podAddressesValue({"node-a", "default", "web-1", "u1", {"10.1.0.7"}}), 0)
                  .ok());
  ASSERT_TRUE(store_
                  ->put(podAddressesKey("node-a", "default", "db-0"),
                        podAddressesValue({"node-a", "default", "db-0", "u2", {"10.1.0.8"}}), 0)
                  .ok());
  ASSERT_TRUE(store_
                  ->put(podAddressesKey("node-b", "default", "web-2"),
                        podAddressesValue({"node-b", "default", "web-2", "u3", {"10.1.1.2"}}), 0)
                  .ok());
  PodAddressPublisher pub(*store_, "node-a");
  pub.start({{"c2/eth0", "default", "db-0", "u2", {"10.1.0.9"}},
             {"c4/eth0", "kube-system", "dns", "u4", {"10.1.0.10"}}});
  ASSERT_TRUE(pub.flush(seconds(10)));
  auto got = published();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_FALSE(got.contains("default/web-1"));
  EXPECT_EQ(got["default/db-0"].ips, std::vector<std::string>{"10.1.0.9"});
  EXPECT_EQ(got["kube-system/dns"].ips, std::vector<std::string>{"10.1.0.10"});
  EXPECT_EQ(got["default/web-2"].node, "node-b");
  // An attachment restored at start goes with its DEL.
  pub.removeAttachment("c4/eth0");
  pub.removeAttachment("unknown/eth0");
  ASSERT_TRUE(pub.flush(seconds(10)));
  EXPECT_FALSE(published().contains("kube-system/dns"));
  EXPECT_EQ(published().size(), 2u);
}

TEST_F(PodAddressesTest, NamesThatCannotBeKubernetesNamesNeverBecomeKeys) {
  PodAddressPublisher pub(*store_, "node-a");
  pub.start({});
  for (const char* bad : {"a/b", "", "web 1", "Web", "x\ny", "-a", "../etc", "a\"b"}) {
    pub.setAttachment("default", bad, "", "eth0", {"10.1.0.5"});
    pub.setAttachment(bad, "web", "", "eth0", {"10.1.0.6"});
  }
  pub.setAttachment("default", "ok.name-1", "", "eth0", {"10.1.0.7"});
  ASSERT_TRUE(pub.flush(seconds(10)));
  auto got = published();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got.contains("default/ok.name-1"));
  EXPECT_FALSE(parsePodAddresses("podips/node-a/default/a/b", R"({"ips":[]})").has_value());
  EXPECT_FALSE(parsePodAddresses("podips/node-a/default/web", "not json").has_value());
}

TEST_F(PodAddressesTest, ManyPodsGoInTransactionsTheDatastoreAccepts) {
  PodAddressPublisher pub(*store_, "node-a");
  pub.start({});
  for (int i = 0; i < 300; ++i) {
    pub.setAttachment("default", "pod-" + std::to_string(i), "", "eth0",
                      {"10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)});
  }
  ASSERT_TRUE(pub.flush(seconds(10)));
  EXPECT_EQ(published().size(), 300u);
}

TEST_F(PodAddressesTest, ABurstOfChangesGoesInFewTransactions) {
  PodAddressPublisher pub(*store_, "node-a");
  pub.start({});
  ASSERT_TRUE(pub.flush(seconds(10)));
  const int64_t before = store_->list(kPodIpsPrefix)->revision;
  // A burst of pod starts, 2 ms apart (as a node starting a job's pods): without coalescing each
  // would be a transaction of its own (a revision each).
  for (int i = 0; i < 15; ++i) {
    pub.setAttachment("default", "pod-" + std::to_string(i), "", "eth0",
                      {"10.1.0." + std::to_string(i + 1)});
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Published without anyone flushing, within the coalescing window's order of magnitude.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (published().size() < 15u && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(published().size(), 15u);
  EXPECT_LE(store_->list(kPodIpsPrefix)->revision - before, 3);
}

}  // namespace
}  // namespace quasar::daemon
