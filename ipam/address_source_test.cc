// The manager drives any AddressSource the same way: idempotence, the durable record naming the
// source, the source told about every outcome, and the record restored into it after a restart.
#include <gtest/gtest.h>

#include <set>

#include "ipam/address_manager.h"
#include "ipam/memory_allocation_store.h"

namespace quasar::ipam {
namespace {

conf::IpAddress ip(const char* s) { return *conf::IpAddress::parse(s); }

// Hands out 10.20.0.100, .101, ... and records what the manager tells it.
class ListSource final : public AddressSource {
 public:
  absl::StatusOr<std::vector<conf::IpAddress>> take(const AllocateRequest& request,
                                                    int64_t) override {
    std::lock_guard lock(mu_);
    if (fail_next) return absl::FailedPreconditionError("no pool serves node n1");
    ++takes;
    for (int i = 100; i < 110; ++i) {
      auto a = ip(("10.20.0." + std::to_string(i)).c_str());
      if (!held.contains(a)) {
        held.insert(a);
        last_request_pod = request.pod.name;
        return std::vector<conf::IpAddress>{a};
      }
    }
    return absl::ResourceExhaustedError("pool full");
  }
  void untake(const Allocation& a) override {
    std::lock_guard lock(mu_);
    for (const auto& x : a.ips) held.erase(x);
    ++untakes;
  }
  void released(const Allocation& a, bool, int64_t) override {
    std::lock_guard lock(mu_);
    for (const auto& x : a.ips) held.erase(x);
    ++releases;
  }
  void endHold(const std::vector<conf::IpAddress>&, int64_t) override {}
  void restore(const Allocation& a) override {
    std::lock_guard lock(mu_);
    for (const auto& x : a.ips) held.insert(x);
  }

  std::mutex mu_;
  std::set<conf::IpAddress> held;
  bool fail_next = false;
  int takes = 0, untakes = 0, releases = 0;
  std::string last_request_pod;
};

// Fails every commit while `fail` is set.
class FlakyDisk final : public AllocationStore {
 public:
  explicit FlakyDisk(AllocationStore& inner) : inner_(inner) {}
  absl::StatusOr<StoreSnapshot> load(int64_t since) override { return inner_.load(since); }
  absl::Status commit(std::span<const Mutation> batch) override {
    if (fail) return absl::UnavailableError("disk gone");
    return inner_.commit(batch);
  }
  std::string describe() const override { return "flaky"; }
  bool fail = false;

 private:
  AllocationStore& inner_;
};

class AddressSourceTest : public ::testing::Test {
 protected:
  void SetUp() { reopen(); }
  void reopen() {
    manager_.reset();
    store_ = disk_.reopen();
    flaky_ = std::make_unique<FlakyDisk>(*store_);
    source_ = std::make_unique<ListSource>();
    AddressManager::Options o{{*conf::IpPrefix::parse("10.0.0.0/24")}, {}, 1000, nullptr};
    o.sources["floating"] = source_.get();
    auto m = AddressManager::create(o, *flaky_, [] { return int64_t{1'000'000}; });
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  AllocateRequest req(const std::string& cid, const std::string& source) {
    AllocateRequest r{{cid, "eth0"}, "quasar", "/ns", {"default", cid, "uid-" + cid}, {}};
    r.source = source;
    return r;
  }

  MemoryAllocationStore disk_;
  std::unique_ptr<MemoryAllocationStore> store_;
  std::unique_ptr<FlakyDisk> flaky_;
  std::unique_ptr<ListSource> source_;
  std::unique_ptr<AddressManager> manager_;
};

TEST_F(AddressSourceTest, RequestGoesToItsSourceAndTheRecordNamesIt) {
  auto f = manager_->allocate(req("c1", "floating"));
  auto b = manager_->allocate(req("c2", ""));
  ASSERT_TRUE(f.ok() && b.ok()) << f.status() << b.status();
  EXPECT_EQ(f->allocation.ips, std::vector<conf::IpAddress>{ip("10.20.0.100")});
  EXPECT_EQ(f->allocation.source, "floating");
  EXPECT_EQ(b->allocation.source, "");
  EXPECT_TRUE(conf::IpPrefix::parse("10.0.0.0/24")->contains(b->allocation.ips[0]));
  EXPECT_EQ(source_->last_request_pod, "c1");
}

TEST_F(AddressSourceTest, IdempotentPerAttachmentWithoutAskingTheSourceAgain) {
  auto a = manager_->allocate(req("c1", "floating"));
  auto again = manager_->allocate(req("c1", "floating"));
  ASSERT_TRUE(a.ok() && again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->allocation.ips, a->allocation.ips);
  EXPECT_EQ(source_->takes, 1);
}

TEST_F(AddressSourceTest, FailedTakeLeavesNoRecord) {
  source_->fail_next = true;
  auto a = manager_->allocate(req("c1", "floating"));
  EXPECT_TRUE(absl::IsFailedPrecondition(a.status())) << a.status();
  EXPECT_TRUE(absl::IsNotFound(manager_->get({"c1", "eth0"}).status()));
  EXPECT_TRUE(manager_->heldAttachments().empty());
}

TEST_F(AddressSourceTest, FailedCommitGivesTheAddressBack) {
  flaky_->fail = true;
  auto a = manager_->allocate(req("c1", "floating"));
  EXPECT_TRUE(absl::IsUnavailable(a.status())) << a.status();
  EXPECT_EQ(source_->untakes, 1);
  EXPECT_TRUE(source_->held.empty());
  EXPECT_TRUE(manager_->heldAttachments().empty());
}

TEST_F(AddressSourceTest, UnknownSourceIsRefused) {
  auto a = manager_->allocate(req("c1", "eni"));
  EXPECT_TRUE(absl::IsFailedPrecondition(a.status())) << a.status();
  EXPECT_TRUE(manager_->heldAttachments().empty());
}

TEST_F(AddressSourceTest, ReleaseReturnsToTheSourceOnlyOnceDurable) {
  auto a = manager_->allocate(req("c1", "floating"));
  ASSERT_TRUE(a.ok());
  flaky_->fail = true;
  EXPECT_FALSE(manager_->release({"c1", "eth0"}).ok());
  EXPECT_EQ(source_->releases, 0);
  flaky_->fail = false;
  auto r = manager_->release({"c1", "eth0"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, a->allocation.ips);
  EXPECT_EQ(source_->releases, 1);
  EXPECT_TRUE(source_->held.empty());
}

TEST_F(AddressSourceTest, RestartRestoresEachAllocationIntoItsSource) {
  auto f = manager_->allocate(req("c1", "floating"));
  auto b = manager_->allocate(req("c2", ""));
  ASSERT_TRUE(f.ok() && b.ok());
  reopen();
  EXPECT_EQ(source_->held, std::set<conf::IpAddress>{ip("10.20.0.100")});
  auto got = manager_->get({"c1", "eth0"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->source, "floating");
  // The restored address is not handed out again by its source.
  auto next = manager_->allocate(req("c3", "floating"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->allocation.ips, std::vector<conf::IpAddress>{ip("10.20.0.101")});
  // Nor the block's by the blocks.
  for (int i = 0; i < 5; ++i) {
    auto x = manager_->allocate(req("b" + std::to_string(i), ""));
    ASSERT_TRUE(x.ok());
    EXPECT_NE(x->allocation.ips, b->allocation.ips);
  }
}

}  // namespace
}  // namespace quasar::ipam
