// EniSource behind the AddressManager (the durable record, restart through the store), the
// refiller thread, and many threads taking and releasing at once (also under TSan).
#include "ipam/eni/eni_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <set>
#include <thread>

#include "ipam/address_manager.h"
#include "ipam/eni/test_util.h"
#include "ipam/failure_reason.h"
#include "ipam/memory_allocation_store.h"

namespace quasar::ipam::eni {
namespace {

using namespace testing;

AllocateRequest request(const std::string& cid) {
  AllocateRequest r{{cid, "eth0"}, "quasar", "/ns", {"default", cid, "uid-" + cid}, {}};
  r.source = EniSource::kName;
  return r;
}

class EniSourceTest : public ::testing::Test {
 protected:
  void TearDown() override { refiller_.reset(); }
  void SetUp() override {
    cloud_ = t3small();
    store_ = disk_.reopen();
    open();
  }
  // quasard's start-up order (eni_source.h).
  void open(PoolConfig c = config()) {
    manager_.reset();
    source_.reset();
    pool_ = std::make_unique<EniPool>(std::move(c), *cloud_);
    source_ = std::make_unique<EniSource>(*pool_, [this] {
      if (refiller_) refiller_->kick();
    });
    store_ = disk_.reopen();
    AddressManager::Options o{{prefix("10.0.0.0/24")}, {}, 1000, nullptr};
    o.sources[EniSource::kName] = source_.get();
    auto m = AddressManager::create(o, *store_, [this] { return now_.load(); });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    ASSERT_TRUE(pool_->start().ok());
  }

  std::atomic<int64_t> now_{1'000'000};
  std::unique_ptr<EniRefiller> refiller_;  // kicked by the source when set
  std::unique_ptr<cloud::FakeCloudProvider> cloud_;
  MemoryAllocationStore disk_;
  std::unique_ptr<MemoryAllocationStore> store_;
  std::unique_ptr<EniPool> pool_;
  std::unique_ptr<EniSource> source_;
  std::unique_ptr<AddressManager> manager_;
};

TEST_F(EniSourceTest, AllocationRecordsTheSourceAndReleaseReturnsTheAddress) {
  auto a = manager_->allocate(request("c1"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->allocation.source, "eni");
  ASSERT_EQ(a->allocation.ips.size(), 1u);
  EXPECT_EQ(pool_->interfaceOf(a->allocation.ips[0])->id, "eni-primary");
  ASSERT_TRUE(manager_->release({"c1", "eth0"}).ok());
  EXPECT_EQ(pool_->status().free, 1);
  EXPECT_FALSE(pool_->interfaceOf(a->allocation.ips[0]).has_value());
}

TEST_F(EniSourceTest, PastTheLimitTheManagerReturnsTheReasonAndFreeingOneLetsTheNextThrough) {
  for (int i = 0; i < 9; ++i)
    ASSERT_TRUE(manager_->allocate(request("c" + std::to_string(i))).ok());
  auto over = manager_->allocate(request("c9"));
  ASSERT_TRUE(absl::IsResourceExhausted(over.status())) << over.status();
  EXPECT_EQ(reasonOf(over.status()), FailureReason::kNodeAddressLimit);
  EXPECT_TRUE(manager_->heldAttachments().size() == 9);
  ASSERT_TRUE(manager_->release({"c3", "eth0"}).ok());
  auto next = manager_->allocate(request("c9"));
  EXPECT_TRUE(next.ok()) << next.status();
}

TEST_F(EniSourceTest, APodCannotRequestAnAddress) {
  auto r = request("c1");
  r.requested_ips = {ip("10.40.0.50")};
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->allocate(r).status()));
}

TEST_F(EniSourceTest, RestartRestoresTheStoresAllocationsIntoThePool) {
  std::set<conf::IpAddress> before;
  for (int i = 0; i < 4; ++i) {
    before.insert(manager_->allocate(request("c" + std::to_string(i)))->allocation.ips[0]);
  }
  open();
  EXPECT_EQ(pool_->status().used, 4);
  auto a = manager_->allocate(request("c9"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(before.contains(a->allocation.ips[0]));
  ASSERT_TRUE(manager_->release({"c1", "eth0"}).ok());
  EXPECT_EQ(pool_->status().used, 4);
}

TEST_F(EniSourceTest, TheRefillerKeepsThePoolWarmAfterEachTake) {
  auto c = config();
  c.warm_ip_target = 2;
  open(c);
  refiller_ = std::make_unique<EniRefiller>(
      *pool_, [this] { return now_.load(); }, std::chrono::hours(1));
  auto& refiller = *refiller_;
  refiller.start();
  auto waitPasses = [&](int n) {
    for (int i = 0; i < 5000 && refiller.passes() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(refiller.passes(), n);
  };
  waitPasses(1);
  EXPECT_EQ(pool_->status().free, 2);
  cloud_->resetCalls();
  ASSERT_TRUE(manager_->allocate(request("c1")).ok());  // warm, then a kick
  waitPasses(2);
  EXPECT_EQ(pool_->status().free, 2);
  EXPECT_EQ(cloud_->calls("assignPrivateIps"), 1);  // by the refiller, not by the ADD
  refiller.stop();
}

// Many ADDs and DELs at once while the refiller grows and shrinks the pool against a cloud that
// answers slowly and sometimes throttles: no address is ever held by two pods, and at the end
// the pool's books match the cloud's.
TEST_F(EniSourceTest, ConcurrentTakesAndReleasesNeverShareAnAddress) {
  cloud_ = std::make_unique<cloud::FakeCloudProvider>(instance("m5.large", 3, 10), subnet());
  auto c = config();
  c.warm_ip_target = 3;
  c.surplus_cooldown_ms = 0;
  open(c);
  cloud_->onCall(
      [](const std::string&) { std::this_thread::sleep_for(std::chrono::microseconds(200)); });
  cloud_->throttle("assignPrivateIps", 5);
  EniRefiller refiller(
      *pool_, [this] { return now_.load(); }, std::chrono::milliseconds(1));
  refiller.start();
  std::mutex mu;
  std::set<conf::IpAddress> live;
  std::atomic<int> taken{0}, duplicates{0}, limited{0}, unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Each thread keeps up to 3 pods at once: 24 on a node of 27 addresses.
      std::deque<std::pair<std::string, conf::IpAddress>> mine;
      auto releaseOldest = [&] {
        {
          std::lock_guard lock(mu);
          live.erase(mine.front().second);
        }
        EXPECT_TRUE(manager_->release({mine.front().first, "eth0"}).ok());
        mine.pop_front();
      };
      for (int i = 0; i < 100; ++i) {
        const std::string cid = "c" + std::to_string(t) + "-" + std::to_string(i);
        auto a = manager_->allocate(request(cid));
        if (a.ok()) {
          std::lock_guard lock(mu);
          if (!live.insert(a->allocation.ips[0]).second) ++duplicates;
          mine.emplace_back(cid, a->allocation.ips[0]);
          ++taken;
        } else if (reasonOf(a.status()) == FailureReason::kNodeAddressLimit) {
          ++limited;
        } else if (absl::IsUnavailable(a.status())) {
          ++unavailable;  // throttled, or an ENI coming or going: the plugin retries
        } else {
          ADD_FAILURE() << a.status();
        }
        now_ += 7;
        if (mine.size() == 3) releaseOldest();
      }
      while (!mine.empty()) releaseOldest();
    });
  }
  for (auto& th : threads) th.join();
  refiller.stop();
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(taken + unavailable, 800);
  EXPECT_GT(taken.load(), 400);
  EXPECT_EQ(limited.load(), 0);  // 24 pods at most on a node of 27
  auto st = pool_->status();
  EXPECT_EQ(st.used, 0);
  EXPECT_EQ(st.assigned, cloud_->secondaryCount());
  EXPECT_LE(st.assigned, st.capacity);
}

}  // namespace
}  // namespace quasar::ipam::eni
