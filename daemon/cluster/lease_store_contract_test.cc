// The LeaseStore contract (ipam/floating/lease_store.h), run against every implementation:
// lease_store_contract_test (label unit): the in-memory store and StoreLeaseStore on SQLite;
// lease_store_etcd_test (label netns): StoreLeaseStore on a real etcd, started here inside
// the test's own network namespace (tests/in-netns.sh). Each case also drives
// FloatingAllocators over the store, as nodes sharing the cluster datastore.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/cluster/cluster_keys.h"
#include "daemon/cluster/store_lease_store.h"
#include "daemon/store/etcd_store.h"
#include "daemon/store/sqlite_kv_store.h"
#include "ipam/floating/floating_allocator.h"
#include "ipam/floating/memory_lease_store.h"
#include "ipam/floating/test_util.h"
#include "tests/spawn.h"

namespace quasar::daemon {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace fl = ipam::floating;
using fl::testing::ip;

fl::Lease lease(const std::string& address, const std::string& pool = "a") {
  fl::Lease l;
  l.pool = pool;
  l.ip = ip(address);
  l.state = fl::LeaseState::kBound;
  l.policy = fl::ReleasePolicy::kImmutable;
  l.workload = {fl::WorkloadKind::kStatefulSet, "ns", "web", "w-uid"};
  l.pod = {"ns", "web-0", "p-uid"};
  l.node = "n1";
  l.attachment = {"c0ffee", "eth0"};
  l.since_unix_ms = 1700000000123;
  l.released_unix_ms = 1700000000000;
  return l;
}

#ifdef QUASAR_LEASE_STORE_ETCD
bool waitForPort(int port) {
  for (int i = 0; i < 200; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (up) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}
#endif

class LeaseStoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-lease-contract-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (GetParam() == "memory") {
      leases_ = std::make_unique<fl::MemoryLeaseStore>();
      return;
    }
    if (GetParam() == "sqlite") {
      auto s = SqliteKvStore::open(dir_ + "/kv.db");
      ASSERT_TRUE(s.ok()) << s.status();
      kv_ = std::move(*s);
    } else {
      ASSERT_EQ(GetParam(), "etcd");
      startEtcd();
    }
    leases_ = std::make_unique<StoreLeaseStore>(*kv_);
  }

  void TearDown() override {
    leases_.reset();
    kv_.reset();
    if (etcd_pid_ > 0) {
      kill(etcd_pid_, SIGKILL);
      waitpid(etcd_pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  void startEtcd() {
#ifdef QUASAR_LEASE_STORE_ETCD
    const std::string peer = "http://127.0.0.1:23800";
    etcd_pid_ = tests::spawnBackground(
        {"etcd", "--name=t", "--data-dir=" + dir_ + "/etcd",
         "--listen-client-urls=http://127.0.0.1:23790",
         "--advertise-client-urls=http://127.0.0.1:23790", "--listen-peer-urls=" + peer,
         "--initial-advertise-peer-urls=" + peer, "--initial-cluster=t=" + peer,
         "--log-level=error"},
        dir_ + "/etcd.log");
    ASSERT_GT(etcd_pid_, 0) << "etcd (Debian's etcd-server) must be installed: scripts/setup.sh";
    ASSERT_TRUE(waitForPort(23790)) << "etcd does not listen on 127.0.0.1:23790";
    EtcdOptions o;
    o.endpoints = {"127.0.0.1:23790"};
    o.key_prefix = "/quasar-test/";
    auto s = EtcdStore::open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    kv_ = std::move(*s);
    for (int i = 0; i < 100; ++i) {
      if (kv_->get("probe").ok()) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "etcd did not come up";
#else
    FAIL() << "built without etcd";
#endif
  }

  std::string dir_;
  pid_t etcd_pid_ = -1;
  std::unique_ptr<Store> kv_;  // null for the memory store
  std::unique_ptr<fl::LeaseStore> leases_;
};

TEST_P(LeaseStoreContract, CreatedLeasesReadBackWholeSortedByAddressAndFilteredByPool) {
  fl::Lease v6 = lease("fd00:20::5", "b");
  v6.state = fl::LeaseState::kReserved;
  v6.operator_reserved = true;
  v6.workload = {};
  for (const auto& l : {lease("10.20.0.10"), lease("10.20.0.9"), v6}) {
    ASSERT_TRUE(leases_->create(l).ok());
  }
  auto all = leases_->list("");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].lease, lease("10.20.0.9"));
  EXPECT_EQ((*all)[1].lease, lease("10.20.0.10"));
  EXPECT_EQ((*all)[2].lease, v6);
  auto b = leases_->list("b");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].lease, v6);
  auto one = leases_->get(ip("10.20.0.10"));
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->lease, lease("10.20.0.10"));
  EXPECT_EQ((*one)->revision, (*all)[1].revision);
  EXPECT_FALSE(leases_->get(ip("10.20.0.11"))->has_value());
}

TEST_P(LeaseStoreContract, CreateOfAHeldAddressIsAlreadyExistsWhateverThePool) {
  ASSERT_TRUE(leases_->create(lease("10.20.0.9", "a")).ok());
  auto again = leases_->create(lease("10.20.0.9", "other-pool-same-subnet"));
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_EQ(leases_->list("")->size(), 1u);
}

TEST_P(LeaseStoreContract, UpdateAndRemoveCompareAndSwapOnTheRevision) {
  auto r1 = leases_->create(lease("10.20.0.9"));
  ASSERT_TRUE(r1.ok());
  fl::Lease changed = lease("10.20.0.9");
  changed.state = fl::LeaseState::kUnbound;
  changed.node.clear();
  changed.attachment = {};
  auto r2 = leases_->update(changed, *r1);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_GT(*r2, *r1);
  EXPECT_EQ((*leases_->get(ip("10.20.0.9")))->lease, changed);
  EXPECT_TRUE(absl::IsAborted(leases_->update(lease("10.20.0.9"), *r1).status()));
  EXPECT_TRUE(absl::IsAborted(leases_->remove(ip("10.20.0.9"), *r1)));
  EXPECT_TRUE(leases_->remove(ip("10.20.0.9"), *r2).ok());
  EXPECT_TRUE(absl::IsAborted(leases_->remove(ip("10.20.0.9"), *r2)));
  EXPECT_TRUE(absl::IsAborted(leases_->update(changed, *r2).status()));
  EXPECT_TRUE(absl::IsAborted(leases_->update(changed, 0).status()));
  EXPECT_FALSE(leases_->get(ip("10.20.0.9"))->has_value());
}

TEST_P(LeaseStoreContract, RacingCreatesOfOneAddressHaveExactlyOneWinner) {
  std::atomic<int> winners{0}, lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      fl::Lease l = lease("10.20.0.9");
      l.node = "n" + std::to_string(i);
      auto r = leases_->create(l);
      if (r.ok()) {
        ++winners;
      } else if (absl::IsAlreadyExists(r.status())) {
        ++lost;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(lost.load(), 7);
}

TEST_P(LeaseStoreContract, ThreeNodesRaceThirtyPodsForTenAddresses) {
  std::vector<std::unique_ptr<fl::FloatingAllocator>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(
        std::make_unique<fl::FloatingAllocator>(*leases_, fl::FloatingAllocator::Options{}));
    nodes.back()->setPools({fl::testing::pool("a", 0, 100, 109)});
  }
  std::atomic<int> ok{0}, exhausted{0};
  std::mutex mu;
  std::set<std::string> ips;
  std::vector<std::string> other_errors;
  std::vector<std::thread> threads;
  std::latch start(30);  // every claim at once, so that they really race
  for (int i = 0; i < 30; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      const int n = i % 3;
      auto c = nodes[n]->claim(fl::testing::barePod(
          "p" + std::to_string(i), "u" + std::to_string(i), fl::ReleasePolicy::kRelease,
          fl::testing::node("n" + std::to_string(n))));
      std::lock_guard lock(mu);
      if (c.ok()) {
        ++ok;
        if (!ips.insert(c->lease.ip.toString()).second) {
          other_errors.push_back("twice: " + c->lease.ip.toString());
        }
      } else if (absl::IsResourceExhausted(c.status())) {
        ++exhausted;
        EXPECT_THAT(std::string(c.status().message()), HasSubstr("a (10/10)"));
      } else {
        other_errors.push_back(c.status().ToString());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(exhausted.load(), 20);
  EXPECT_THAT(other_errors, ::testing::IsEmpty());
  auto held = leases_->list("a");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->size(), 10u);
}

TEST_P(LeaseStoreContract, AKeptAddressAndACoolDownOutliveTheAllocator) {
  fl::ClaimRequest web0 =
      fl::testing::request(fl::testing::workload(fl::WorkloadKind::kStatefulSet, "web"), "web-0",
                           "u1", fl::ReleasePolicy::kImmutable, fl::testing::node("n1"));
  fl::ClaimRequest solo =
      fl::testing::barePod("solo", "s1", fl::ReleasePolicy::kRelease, fl::testing::node("n1"));
  std::string kept;
  {
    fl::FloatingAllocator a(*leases_, {.cooldown_ms = 5000});
    a.setPools({fl::testing::pool("a", 0, 100, 101)});
    auto c = a.claim(web0);
    ASSERT_TRUE(c.ok()) << c.status();
    kept = c->lease.ip.toString();
    ASSERT_TRUE(a.claim(solo).ok());
    ASSERT_TRUE(a.release(web0.attachment, 2000).ok());
    ASSERT_TRUE(a.release(solo.attachment, 2000).ok());
  }
  // A restarted daemon (another node, even) on the same datastore.
  fl::FloatingAllocator b(*leases_, {.cooldown_ms = 5000});
  b.setPools({fl::testing::pool("a", 0, 100, 101)});
  auto other = b.claim(
      fl::testing::barePod("x", "x1", fl::ReleasePolicy::kRelease, fl::testing::node("n2"), 3000));
  EXPECT_TRUE(absl::IsUnavailable(other.status())) << other.status();  // cooling, kept
  auto back = b.claim(fl::testing::request(
      web0.workload, "web-0", "u2", fl::ReleasePolicy::kImmutable, fl::testing::node("n2"), 3000));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->lease.ip.toString(), kept);
}

TEST_P(LeaseStoreContract, AnUndecodableValueIsSkippedButStillHoldsItsAddress) {
  if (!kv_) GTEST_SKIP() << "only the datastore adapter decodes values";
  ASSERT_TRUE(kv_->put(keys::fip(ip("10.20.0.100")), "{not json", 0).ok());
  ASSERT_TRUE(kv_->put(keys::fip(ip("10.20.0.101")), R"({"pool": 5})", 0).ok());
  auto l = leases_->list("");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(l->empty());
  EXPECT_TRUE(absl::IsDataLoss(leases_->get(ip("10.20.0.101")).status()));
  fl::FloatingAllocator a(*leases_, {});
  a.setPools({fl::testing::pool("a", 0, 100, 102)});
  auto c =
      a.claim(fl::testing::barePod("p", "u", fl::ReleasePolicy::kRelease, fl::testing::node("n1")));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lease.ip.toString(), "10.20.0.102");
}

#ifdef QUASAR_LEASE_STORE_ETCD
INSTANTIATE_TEST_SUITE_P(Backend, LeaseStoreContract, ::testing::Values("etcd"),
                         [](const auto& info) { return info.param; });
#else
INSTANTIATE_TEST_SUITE_P(Backend, LeaseStoreContract, ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });
#endif

TEST(LeaseJson, RoundTripsEveryFieldAndRejectsWrongTypes) {
  fl::Lease l = lease("10.20.0.9");
  l.operator_reserved = true;
  auto back = leaseFromJson(leaseToJson(l));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, l);
  auto j = leaseToJson(l);
  j["state"] = 3;
  EXPECT_TRUE(absl::IsInvalidArgument(leaseFromJson(j).status()));
  j = leaseToJson(l);
  j["policy"] = "forever";
  EXPECT_TRUE(absl::IsInvalidArgument(leaseFromJson(j).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(leaseFromJson(nlohmann::json::array()).status()));
}

}  // namespace
}  // namespace quasar::daemon
