#include "ipam/range_allocator.h"

#include <gtest/gtest.h>

#include <set>

namespace quasar::ipam {
namespace {

conf::IpPrefix P(const char* s) { return *conf::IpPrefix::parse(s); }
conf::IpAddress A(const char* s) { return *conf::IpAddress::parse(s); }

TEST(RangeAllocator, SkipsNetworkBroadcastAndReserved) {
  RangeAllocator r(P("10.0.0.0/29"), {A("10.0.0.3"), A("192.0.2.1")}, 0);
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto ip = r.allocateNext(0);
    ASSERT_TRUE(ip.ok()) << ip.status();
    got.insert(ip->toString());
  }
  EXPECT_EQ(got,
            (std::set<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  auto full = r.allocateNext(0);
  EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
  EXPECT_EQ(r.stats(0).capacity, absl::uint128(5));
}

TEST(RangeAllocator, ReleasedAddressCoolsDownBeforeReuse) {
  RangeAllocator r(P("10.0.0.0/30"), {}, 1000);  // two usable: .1 and .2
  auto a = r.allocateNext(0);
  auto b = r.allocateNext(0);
  ASSERT_TRUE(a.ok() && b.ok());
  r.release(*a, 100);
  auto cooling = r.allocateNext(500);
  EXPECT_TRUE(absl::IsUnavailable(cooling.status())) << cooling.status();
  EXPECT_EQ(r.stats(500).cooling, 1u);
  EXPECT_TRUE(absl::IsUnavailable(r.allocate(*a, 500)));
  auto again = r.allocateNext(1100);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *a);
}

TEST(RangeAllocator, RoundRobinDoesNotReuseTheLastReleasedFirst) {
  RangeAllocator r(P("10.0.0.0/24"), {}, 0);
  auto a = r.allocateNext(0);
  r.release(*a, 0);
  auto b = r.allocateNext(0);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);
}

TEST(RangeAllocator, SpecificAddressRules) {
  RangeAllocator r(P("10.0.0.0/24"), {A("10.0.0.10")}, 0);
  EXPECT_TRUE(r.allocate(A("10.0.0.5"), 0).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(r.allocate(A("10.0.0.5"), 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(r.allocate(A("10.0.0.10"), 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(r.allocate(A("10.0.0.0"), 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(r.allocate(A("10.0.0.255"), 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(r.allocate(A("10.0.1.1"), 0)));
  r.unallocate(A("10.0.0.5"));
  EXPECT_FALSE(r.isUsed(A("10.0.0.5")));
}

TEST(RangeAllocator, Ipv6RangeIsBoundedAndUnique) {
  RangeAllocator r(P("fd00::/64"), {}, 0);
  std::set<conf::IpAddress> seen;
  for (int i = 0; i < 1000; ++i) {
    auto ip = r.allocateNext(0);
    ASSERT_TRUE(ip.ok());
    EXPECT_TRUE(seen.insert(*ip).second);
  }
  EXPECT_EQ(seen.begin()->toString(), "fd00::1");
}

TEST(RangeAllocator, FillsEveryAddressExactlyOnce) {
  RangeAllocator r(P("10.1.0.0/22"), {}, 0);
  std::set<conf::IpAddress> seen;
  while (true) {
    auto ip = r.allocateNext(0);
    if (!ip.ok()) break;
    ASSERT_TRUE(seen.insert(*ip).second) << ip->toString();
  }
  EXPECT_EQ(seen.size(), 1022u);
}

}  // namespace
}  // namespace quasar::ipam

namespace quasar::ipam {
namespace {

TEST(RangeAllocator, HeldAddressIsNotReusedUntilTheHoldEnds) {
  RangeAllocator r(*conf::IpPrefix::parse("10.0.0.0/30"), {}, 0);  // .1 and .2
  auto a = r.allocateNext(0);
  auto b = r.allocateNext(0);
  ASSERT_TRUE(a.ok() && b.ok());
  r.releaseHeld(*a);
  EXPECT_TRUE(absl::IsUnavailable(r.allocateNext(1000000).status()));
  EXPECT_TRUE(absl::IsUnavailable(r.allocate(*a, 1000000)));
  r.endHold(*a, 1000000);
  auto again = r.allocateNext(1000000);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *a);
}

}  // namespace
}  // namespace quasar::ipam
